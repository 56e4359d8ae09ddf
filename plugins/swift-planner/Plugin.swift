// Swift planner plugin (written below).
