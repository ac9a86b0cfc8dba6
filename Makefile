# One verb per task. Others add `dev`, `test`, `check`, ... below.
.PHONY: services-up services-down services-status services-env

HARNESS := scripts/harness/services.sh

## Real local services (PostgreSQL, Redis, livekit-server, OIDC provider) on 127.0.0.1.
services-up:
	$(HARNESS) start

services-down:
	$(HARNESS) stop

services-status:
	$(HARNESS) status

# Writes var/harness/env and var/harness/control-plane.env (prints nothing secret).
services-env:
	@$(HARNESS) env >/dev/null && echo "wrote var/harness/env and var/harness/control-plane.env"
