"""Progress toward the five abilities: evidence, proficiency, charts, reports, the mentor dashboard,
the semiannual mentor-selection review and the calibration of the rubric against mentors' grades."""
from shifu.progress.calibration import CalibrationResult, calibrate
from shifu.progress.config import Taxonomy, load_progress_rules, load_review_rules, load_taxonomy
from shifu.progress.dashboard import Dashboard, dashboard
from shifu.progress.evidence import Evidence, build_evidence, collect_evidence
from shifu.progress.proficiency import proficiency

__all__ = ["CalibrationResult", "Dashboard", "calibrate", "Evidence", "Taxonomy", "build_evidence", "collect_evidence", "dashboard",
           "load_progress_rules", "load_review_rules", "load_taxonomy", "proficiency"]
