"""Keeping a user's code (a submitted optimizer, a task) from hanging, killing or changing the
process that runs it: one call in a forked child under a time limit (time_limit), the
process-wide state each unit of trials must find as it was (process_state), and threads left
running that must not hold a process at exit (threads). Below every other folder of `bench`:
it imports none of them."""
