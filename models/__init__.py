from . import ir_config_parameter
from . import perimeter_allowlist
from . import res_config_settings
from . import perimeter_policy
from . import perimeter_lockout
from . import ir_http
from . import ir_websocket
