"""Progress toward the five abilities: evidence, proficiency, charts, reports, the mentor dashboard,
the semiannual mentor-selection review and the calibration of the rubric against mentors' grades."""
from .calibration import CalibrationResult, calibrate
from .config import Taxonomy, load_progress_rules, load_review_rules, load_taxonomy
from .dashboard import Dashboard, dashboard
from .evidence import Evidence, build_evidence, collect_evidence
from .proficiency import proficiency

__all__ = ["CalibrationResult", "Dashboard", "calibrate", "Evidence", "Taxonomy", "build_evidence", "collect_evidence", "dashboard",
           "load_progress_rules", "load_review_rules", "load_taxonomy", "proficiency"]
