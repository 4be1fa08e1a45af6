"""Modules whose import itself is the defect (one each): importing one hangs, ends the
process or raises SystemExit. Each then names a conforming optimizer, `Conforming`, which is
never reached; `wdbench check-optimizer` and validation must answer in one line regardless."""
