"""Sign-in, sessions and their versions, the password policy, API tokens, decorators.

``passwords`` and ``tokens`` import no Flask (services use them); ``sessions``, ``decorators``
and ``cli`` are the Flask side. ``app.security.init_app`` installs them.
"""
