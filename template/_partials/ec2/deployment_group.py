"""The blue/green deployment group of one environment, and the Auto Scaling group it copies.

Each blue/green deployment replaces the Auto Scaling group: CodeDeploy copies it, moves traffic
to the copy, deletes the original and names the copy in the deployment group. This function
creates the first group and the deployment group; on a stack update it applies the stack's
settings to the group the deployment group names at that moment; when the stack is deleted
it deletes the deployment group, that Auto Scaling group and any copy a deployment under way
has made (CodeDeploy names the copies CodeDeploy_<deployment group>_<deployment id>).
"""
import json
import logging
import time
import urllib.request

import boto3

LOG = logging.getLogger()
LOG.setLevel(logging.INFO)
CODEDEPLOY = boto3.client("codedeploy")
AUTOSCALING = boto3.client("autoscaling")
# The properties that are deployment group settings, named as in CodeDeploy's API (in PascalCase).
SETTINGS = ("AlarmConfiguration", "AutoRollbackConfiguration", "BlueGreenDeploymentConfiguration",
            "DeploymentConfigName", "DeploymentStyle", "LoadBalancerInfo", "ServiceRoleArn")
# CloudFormation passes every property value as a string.
NUMBERS = {"DesiredCapacity", "HealthCheckGracePeriod", "MaxSize", "MinSize", "TerminationWaitTimeInMinutes",
           "WaitTimeInMinutes"}
FLAGS = {"Enabled", "IgnorePollAlarmFailure"}
# CodeDeploy refuses a service role created seconds earlier until IAM has propagated it
# (InvalidRoleException): try again this often, this many seconds apart.
ROLE_ATTEMPTS = 12
ROLE_RETRY_SECONDS = 5


def handler(event, context):
    props = event["ResourceProperties"]
    physical_id = f"{props['ApplicationName']}/{props['DeploymentGroupName']}"
    status, reason, data = "SUCCESS", "", {}
    try:
        if event["RequestType"] == "Delete":
            delete(props, context)
        else:
            data = {"AutoScalingGroupName": apply(props, context), "DeploymentGroupName": props["DeploymentGroupName"]}
    except Exception as error:  # CloudFormation must hear of every failure, or it waits for an hour
        LOG.exception("%s of %s failed", event["RequestType"], physical_id)
        status, reason = "FAILED", f"{type(error).__name__}: {error}"[:900]
    respond(event, status, reason, physical_id, data)


def typed(value, key=""):
    """A property value as the AWS APIs take it: numbers and booleans typed, keys as given."""
    if isinstance(value, dict):
        return {name: typed(item, name) for name, item in value.items()}
    if isinstance(value, list):
        return [typed(item, key) for item in value]
    if key in NUMBERS:
        return int(value)
    if key in FLAGS:
        return str(value).lower() == "true"
    return value


def camel(value):
    """CodeDeploy's API names: the properties' names starting in lower case."""
    if isinstance(value, dict):
        return {name[0].lower() + name[1:]: camel(item) for name, item in value.items()}
    if isinstance(value, list):
        return [camel(item) for item in value]
    return value


def apply(props, context):
    """Create or update the deployment group and the Auto Scaling group it names; returns that group."""
    app, name = props["ApplicationName"], props["DeploymentGroupName"]
    fleet = typed(props["AutoScalingGroup"])
    fleet["VPCZoneIdentifier"] = ",".join(fleet["VPCZoneIdentifier"])
    named = named_groups(app, name)
    group = named[0] if named else fleet["AutoScalingGroupName"]
    if find(group):
        LOG.info("Applying the stack's settings to %s", group)
        update = {key: value for key, value in fleet.items() if key != "TargetGroupARNs"}
        AUTOSCALING.update_auto_scaling_group(**dict(update, AutoScalingGroupName=group))
    else:
        LOG.info("Creating %s", group)
        AUTOSCALING.create_auto_scaling_group(**dict(fleet, AutoScalingGroupName=group))
    settings = camel(typed({key: props[key] for key in SETTINGS}))
    settings["autoScalingGroups"] = [group]
    if named is None:
        LOG.info("Creating deployment group %s of %s", name, app)
        with_new_role(context, CODEDEPLOY.create_deployment_group, applicationName=app, deploymentGroupName=name, **settings)
    else:
        LOG.info("Updating deployment group %s of %s", name, app)
        with_new_role(context, CODEDEPLOY.update_deployment_group, applicationName=app, currentDeploymentGroupName=name, **settings)
    return group


def with_new_role(context, call, **params):
    """call(**params), again while CodeDeploy cannot assume a service role IAM has not propagated yet."""
    for attempt in range(1, ROLE_ATTEMPTS + 1):
        try:
            return call(**params)
        except CODEDEPLOY.exceptions.InvalidRoleException:
            if attempt == ROLE_ATTEMPTS or context.get_remaining_time_in_millis() < (ROLE_RETRY_SECONDS + 60) * 1000:
                raise
            LOG.info("CodeDeploy cannot assume the service role yet (attempt %d): trying again", attempt)
            time.sleep(ROLE_RETRY_SECONDS)


def named_groups(app, name):
    """The Auto Scaling groups the deployment group names, or None when there is no deployment group."""
    try:
        info = CODEDEPLOY.get_deployment_group(applicationName=app, deploymentGroupName=name)["deploymentGroupInfo"]
    except (CODEDEPLOY.exceptions.DeploymentGroupDoesNotExistException,
            CODEDEPLOY.exceptions.ApplicationDoesNotExistException):
        return None
    return [group["name"] for group in info.get("autoScalingGroups", [])]


def find(group):
    """The Auto Scaling group of that name, unless it does not exist or is being deleted."""
    found = AUTOSCALING.describe_auto_scaling_groups(AutoScalingGroupNames=[group])["AutoScalingGroups"]
    return next((item for item in found if item.get("Status") != "Delete in progress"), None)


def delete(props, context):
    """Delete the deployment group and its Auto Scaling groups, and wait until their instances are gone."""
    app, name = props["ApplicationName"], props["DeploymentGroupName"]
    named = named_groups(app, name)
    if named is not None:
        LOG.info("Deleting deployment group %s of %s", name, app)
        CODEDEPLOY.delete_deployment_group(applicationName=app, deploymentGroupName=name)
    # After the deployment group, so that no deployment starts another copy.
    groups = set(named or []) | {props["AutoScalingGroup"]["AutoScalingGroupName"]} | copies(name)
    for group in sorted(groups):
        if find(group):
            LOG.info("Deleting %s and its instances", group)
            AUTOSCALING.delete_auto_scaling_group(AutoScalingGroupName=group, ForceDelete=True)
    # The security groups and the launch template go next; they must not be in use then.
    waiting = sorted(group for group in groups if describe(group))
    while waiting:
        if context.get_remaining_time_in_millis() < 60000:
            raise TimeoutError(f"{', '.join(waiting)} still deleting: delete the stack again to wait for them")
        time.sleep(15)
        waiting = [group for group in waiting if describe(group)]


def copies(name):
    """The Auto Scaling groups CodeDeploy has copied for the deployment group, finished or not."""
    found, token = set(), None
    while True:
        page = AUTOSCALING.describe_auto_scaling_groups(**({"NextToken": token} if token else {}))
        found |= {item["AutoScalingGroupName"] for item in page["AutoScalingGroups"]
                  if item["AutoScalingGroupName"].startswith(f"CodeDeploy_{name}_")}
        token = page.get("NextToken")
        if not token:
            return found


def describe(group):
    return AUTOSCALING.describe_auto_scaling_groups(AutoScalingGroupNames=[group])["AutoScalingGroups"]


def respond(event, status, reason, physical_id, data):
    """Tell CloudFormation the outcome through the request's presigned URL."""
    body = json.dumps({
        "Status": status,
        "Reason": reason or "See the function's log in CloudWatch Logs",
        "PhysicalResourceId": physical_id,
        "StackId": event["StackId"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"],
        "Data": data,
    }).encode()
    request = urllib.request.Request(event["ResponseURL"], data=body, method="PUT", headers={"Content-Type": ""})
    with urllib.request.urlopen(request, timeout=60) as answer:
        LOG.info("Told CloudFormation %s (HTTP %s)", status, answer.status)
