"""Two slixmpp clients (Debian's python3-slixmpp) against the server under test.

Usage: slixmppScenario.py PORT. Prints one JSON object with what the clients saw, then exits.
Each step is bounded in time; a step that does not complete is reported, never waited on forever.
"""
import asyncio
import json
import sys

import slixmpp

PORT = int(sys.argv[1])
STEP_TIMEOUT = 10


class Client(slixmpp.ClientXMPP):
    def __init__(self, user):
        super().__init__(f"{user}@localhost/slix", user)
        # Plain TCP on loopback: no STARTTLS offered by the server under test.
        self.enable_starttls = False
        self.enable_direct_tls = False
        self.enable_plaintext = True
        self['feature_mechanisms'].unencrypted_plain = True
        for plugin in ('xep_0030', 'xep_0199', 'xep_0280', 'xep_0191'):
            self.register_plugin(plugin)
        self.ready = asyncio.get_event_loop().create_future()
        self.messages = []
        self.carbons = []
        self.add_event_handler('session_start', self.on_start)
        self.add_event_handler('message', lambda m: self.messages.append(str(m['body'])))
        self.add_event_handler('carbon_received', lambda m: self.carbons.append(('received', self.forwarded_body(m))))
        self.add_event_handler('carbon_sent', lambda m: self.carbons.append(('sent', self.forwarded_body(m))))
        self.add_event_handler('failed_auth', lambda _: self.ready.done() or self.ready.set_exception(RuntimeError('auth failed')))

    @staticmethod
    def forwarded_body(m):
        body = m.xml.find('.//{jabber:client}body')
        return body.text if body is not None else None

    async def on_start(self, _event):
        await self.get_roster(timeout=STEP_TIMEOUT)
        self.send_presence()
        self.ready.set_result(True)


async def until(check, what):
    for _ in range(STEP_TIMEOUT * 20):
        if check():
            return True
        await asyncio.sleep(0.05)
    raise TimeoutError(what)


async def main():
    out = {}
    alice, bob = Client('alice'), Client('bob')
    for c in (alice, bob):
        c.connect(('127.0.0.1', PORT))
    await asyncio.wait_for(asyncio.gather(alice.ready, bob.ready), STEP_TIMEOUT)
    out['rosterVersioning'] = 'rosterver' in alice.features
    # The handshake: slixmpp's auto_authorize approves and auto_subscribe asks back.
    alice.send_presence_subscription(pto='bob@localhost')
    await until(lambda: alice.client_roster['bob@localhost']['subscription'] == 'both', 'alice: bob both')
    await until(lambda: bob.client_roster['alice@localhost']['subscription'] == 'both', 'bob: alice both')
    out['aliceSeesBob'] = sorted(alice.client_roster['bob@localhost'].resources.keys())
    await until(lambda: len(alice.client_roster['bob@localhost'].resources) > 0, 'alice sees bob online')
    out['aliceSeesBob'] = sorted(alice.client_roster['bob@localhost'].resources.keys())
    out['subscription'] = alice.client_roster['bob@localhost']['subscription']
    info = await alice['xep_0030'].get_info(jid='localhost', timeout=STEP_TIMEOUT)
    out['serverFeatures'] = sorted(info['disco_info']['features'])
    out['serverIdentities'] = [list(i[:2]) for i in info['disco_info']['identities']]
    # Carbons: a second alice resource enables them and sees what the first one receives.
    alice2 = Client('alice')
    alice2.boundjid.resource = 'slix2'
    alice2.requested_jid.resource = 'slix2'
    alice2.connect(('127.0.0.1', PORT))
    await asyncio.wait_for(alice2.ready, STEP_TIMEOUT)
    await alice2['xep_0280'].enable(timeout=STEP_TIMEOUT)
    bob.send_message(mto='alice@localhost/slix', mbody='to slix', mtype='chat')
    await until(lambda: 'to slix' in alice.messages, 'alice gets the message')
    await until(lambda: ('received', 'to slix') in alice2.carbons, 'alice2 gets the carbon')
    out['carbons'] = alice2.carbons
    # Blocking: bob blocks alice; alice's message comes back as an error (XEP-0191 §3.3).
    await bob['xep_0191'].block(['alice@localhost'], timeout=STEP_TIMEOUT)
    blocked = await bob['xep_0191'].get_blocked(timeout=STEP_TIMEOUT)
    out['blocklist'] = sorted(str(j) for j in blocked['blocklist']['items'])
    errors = []
    alice.add_event_handler('message_error', lambda m: errors.append(m['error']['condition']))
    alice.send_message(mto='bob@localhost/slix', mbody='blocked?', mtype='chat')
    await until(lambda: len(errors) > 0, 'alice gets an error')
    out['blockedError'] = errors[0]
    out['bobGotBlocked'] = 'blocked?' in bob.messages
    # Presence: bob leaves; alice's roster shows him offline.
    bob.disconnect()
    await until(lambda: len(alice.client_roster['bob@localhost'].resources) == 0, 'alice sees bob offline')
    out['bobOfflineSeen'] = True
    for c in (alice, alice2):
        c.disconnect()
    await asyncio.sleep(0.2)
    print(json.dumps(out))


try:
    asyncio.get_event_loop().run_until_complete(asyncio.wait_for(main(), 60))
except Exception as e:  # reported to the test, which fails with it
    print(json.dumps({'error': f'{type(e).__name__}: {e}'}))
    sys.exit(1)
