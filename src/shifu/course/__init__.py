"""The course: nbgrader modules, their build and check, the trainee workspace and the demo cohort."""
