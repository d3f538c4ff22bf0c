"""Pure-Python perimeter engine.

Nothing in this package imports Odoo: it can be tested, benchmarked and reused
on its own. The Odoo addon around it only gathers facts and applies verdicts.
"""
