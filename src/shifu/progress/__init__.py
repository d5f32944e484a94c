"""Progress toward the five abilities: evidence, proficiency, charts, reports, the mentor dashboard
and the semiannual mentor-selection review."""
from .config import Taxonomy, load_progress_rules, load_review_rules, load_taxonomy
from .dashboard import Dashboard, dashboard
from .evidence import Evidence, build_evidence, collect_evidence
from .proficiency import proficiency

__all__ = ["Dashboard", "Evidence", "Taxonomy", "build_evidence", "collect_evidence", "dashboard",
           "load_progress_rules", "load_review_rules", "load_taxonomy", "proficiency"]
