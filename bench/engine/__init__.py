"""The engine: trains one trial (runner) or a stacked group of trials (stacked/) and measures it at
its evaluation points; builds each trial's context and record."""
