"""Tests of scheduler.local: Kairos processes on this machine."""
