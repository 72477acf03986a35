"""Tests of the sandbox gateway (panelpay.sandbox) over real HTTP."""
