#!/usr/bin/env escript
%% ejabberd's own jid:decode/1 over JIDs read from stdin, for test/vectors.test.ts.
%% Needs the p1_xmpp and p1_stringprep applications (ejabberd's, in the Erlang lib dir).
%% Input: one JID a line, hex-encoded UTF-8. Output, a line each:
%% "ok:<hex luser>:<hex lserver>:<hex lresource>" (jid:tolower/1) or "error".
main(_) ->
    {ok, _} = application:ensure_all_started(stringprep),
    ok = jid:start(),
    loop().

loop() ->
    case io:get_line("") of
        eof -> ok;
        Line ->
            Input = binary:decode_hex(string:trim(list_to_binary(Line))),
            Result = try jid:tolower(jid:decode(Input)) of
                         {U, S, R} -> ["ok:", hex(U), ":", hex(S), ":", hex(R)]
                     catch _:_ -> "error"
                     end,
            io:put_chars([Result, "\n"]),
            loop()
    end.

hex(B) -> binary:encode_hex(B).
