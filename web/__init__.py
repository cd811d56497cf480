"""The Flask-facing glue shared by the API, the Dash callbacks and the pages: who is
acting on this request, which Storage serves this app, and the guard in front of all."""
