"""Discrete-event simulation of a chosen deployment: replicas, dispatch, batching."""
