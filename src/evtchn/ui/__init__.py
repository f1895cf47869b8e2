"""A web dashboard of the persisted host, served by `evtchn serve` at /ui (docs/ui.md).

app.py holds the per-server state, routes.py the HTTP routes, state.py what is shown, charts.py the SVG
geometry, actions.py the buttons (XenAPI calls), analysis.py the pasted-dump view; templates/ and static/
are the page itself.
"""
