"""Every model module; importing this package registers them all."""

from tfgen.models import cvae  # noqa: F401
