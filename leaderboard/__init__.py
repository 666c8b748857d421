"""Leaderboard: run records -> aggregated release -> tables, plots and a static site.

Pipeline (after HELM): ``store`` loads records into a pandas frame, ``aggregate`` reduces them the way
the papers do, ``release`` turns that into a JSON-serialisable release, and ``site`` renders the release
(and only the release) into static HTML. ``published`` holds the papers' numbers as separate rows.
"""
