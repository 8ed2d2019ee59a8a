"""Pure domain rules of Kairos: no I/O, no clock reads."""
