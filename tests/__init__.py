from . import test_allowlist
from . import test_settings
from . import test_ui
from . import test_connected_systems
from . import test_system_fence
from . import test_dashboard_tour
