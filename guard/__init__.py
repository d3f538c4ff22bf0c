"""Request plumbing between Odoo and the engine: the server tier, verdicts, refusals,
the configuration file's section and the in-memory sinks flushed in the background.

Everything here that touches Odoo's private internals lives here and nowhere else.
"""
