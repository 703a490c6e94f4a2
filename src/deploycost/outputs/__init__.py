"""Renderings of a solve result: the recommended configuration and Kubernetes manifests
(``export``) and the HTML/Markdown report (``report``). They render; they do not re-solve
or re-cost."""
