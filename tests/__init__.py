from . import test_allowlist
from . import test_settings
from . import test_ui
from . import test_access_log
from . import test_access_log_ui
