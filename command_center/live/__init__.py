"""Live pushes: the WebSocket fan-out of bus events to the browsers allowed to see them.

STYLE places the fan-out under web_ui/, but it needs the bus and the auth principal, and web_ui is
meant to talk to the API only; so the server side lives here and web_ui holds the pages.
"""
