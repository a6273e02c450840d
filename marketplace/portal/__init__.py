"""The public portal: server-rendered pages for citizens, the press and small suppliers.

Read-only pages over the domains' service functions, called as the anonymous actor; Jinja templates in
`templates/`, assets in `static/` (served by the app, no CDN), charts drawn server-side as SVG (charts.py).
"""
