"""The trial specification: a Trial (one fully specified run), its validation, suite files that
expand into Trials, learning-rate schedules, tracker and executor settings. Nothing here trains."""
