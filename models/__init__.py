from . import ir_config_parameter
from . import perimeter_allowlist
from . import res_config_settings
from . import perimeter_access_log
from . import perimeter_access_alert
