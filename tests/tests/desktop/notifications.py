"""A desktop notification server for the alerts E2E test: owns
org.freedesktop.Notifications on the session bus named by DBUS_SESSION_BUS_ADDRESS (the
test's private bus), answers Notify as a real server does, and writes each notification
as one JSON line {"app", "summary", "body"} to the file named by its first argument.
Prints "ready" once it owns the name. Runs until killed.

Written with jeepney (a D-Bus implementation by others), so the app's notify-rust client
is checked against the protocol, not against our own reading of it.
"""

import json
import sys

from jeepney import HeaderFields, MessageType, new_error, new_method_return
from jeepney.bus_messages import message_bus
from jeepney.io.blocking import open_dbus_connection

NAME = "org.freedesktop.Notifications"


def main() -> None:
    out = open(sys.argv[1], "a", encoding="utf-8")
    conn = open_dbus_connection(bus="SESSION")
    reply = conn.send_and_get_reply(message_bus.RequestName(NAME, 4))  # 4: do not queue
    if reply.body[0] != 1:  # 1: primary owner
        sys.exit(f"could not own {NAME}: RequestName answered {reply.body[0]}")
    print("ready", flush=True)
    next_id = 0
    while True:
        msg = conn.receive()
        if msg.header.message_type != MessageType.method_call:
            continue
        member = msg.header.fields.get(HeaderFields.member)
        if member == "Notify":
            app, _replaces, _icon, summary, body = msg.body[:5]
            next_id += 1
            out.write(json.dumps({"app": app, "summary": summary, "body": body}) + "\n")
            out.flush()
            conn.send(new_method_return(msg, "u", (next_id,)))
        elif member == "GetCapabilities":
            conn.send(new_method_return(msg, "as", (["body"],)))
        elif member == "GetServerInformation":
            conn.send(new_method_return(msg, "ssss", ("logiflow-e2e", "logiflow", "1", "1.2")))
        elif member == "CloseNotification":
            conn.send(new_method_return(msg))
        else:
            conn.send(new_error(msg, "org.freedesktop.DBus.Error.UnknownMethod", "s", (f"no method {member}",)))


if __name__ == "__main__":
    main()
