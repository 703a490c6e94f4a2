"""Every way to deploy each model: performance (profiles, roofline, memory, cold start),
queueing (Erlang C) and the option grid with its feasibility reasons and diagnostics."""
