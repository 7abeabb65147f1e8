#!/usr/bin/env escript
%% ejabberd's own decoding of a presence's priority (processone/xmpp's xmpp:decode/1 over
%% fxml_stream:parse_element/1), for test/presencePriority.test.ts. Needs the p1_xmpp and p1_xml
%% applications (ejabberd's, in the Erlang lib dir).
%% Input: one <presence xmlns='jabber:client'/> a line, hex-encoded UTF-8. Output, a line each:
%% "ok:<integer>", "ok:undefined" or "error" (the codec refused it: bad-request).
main(_) ->
    loop().

loop() ->
    case io:get_line("") of
        eof -> ok;
        Line ->
            Xml = binary:decode_hex(string:trim(list_to_binary(Line))),
            Result = try xmpp:decode(fxml_stream:parse_element(Xml)) of
                         {presence, _Id, _Type, _Lang, _From, _To, _Show, _Status, Prio, _Els, _Meta} ->
                             io_lib:format("ok:~p", [Prio])
                     catch _:_ -> "error"
                     end,
            io:put_chars([Result, "\n"]),
            loop()
    end.
