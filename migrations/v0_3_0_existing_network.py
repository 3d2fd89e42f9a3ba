"""Migration to v0.3.0: a service that runs in a VPC keeps the VPC it already has.

Before v0.3.0 the owner deployed the service stacks by hand, into a VPC of their own; from
v0.3.0 the pipeline deploys them, and the new question `network` defaults to `create` (a new
VPC per environment). For a service rendered before v0.3.0 that default would move a running
service to a new VPC, with a new load balancer. So this records `network: existing`: the
update then asks for that VPC's ids (`vpc_id`, `public_subnet_ids`, `private_subnet_ids`),
and stops with their question named when they are not given. Lambda functions have no VPC.
Copier runs this before it renders the new version, with the answers file's path as the only
argument; it is a no-op when run twice.
"""

from __future__ import annotations

import sys

from answers_file import rewrite

VPC_TARGETS = ("ecs_fargate", "ec2")


def migrate(answers: dict) -> bool:
    """Record the existing network in place; True when something changed."""
    if answers.get("target", "ecs_fargate") not in VPC_TARGETS or "network" in answers:
        return False
    answers["network"] = "existing"
    return True


if __name__ == "__main__":
    rewrite(sys.argv[1], migrate, "copier-codepipeline v0.3.0: kept the service's existing VPC (network: existing)")
