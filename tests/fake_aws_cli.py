"""A stand-in for the AWS CLI, for the rendered service's build scripts: `aws SERVICE COMMAND
--cli-input-json JSON --output json`. Every call must fit botocore's model of the operation; the
ECS services, task definitions and ECR images it answers about live in the JSON file named by
FAKE_AWS_STATE, which also records the calls. It behaves as the services document: a missing
cluster is ClusterNotFoundException, an existing tag cannot be put again (immutable tags), and
deleting an image's last tag deletes the image."""

from __future__ import annotations

import json
import os
import sys

import botocore
import botocore.session
from botocore.validate import ParamValidator

PAGE_SIZE = 25  # ECR answers up to 100 images a page; fewer here, so that callers must follow nextToken


class AwsError(Exception):
    pass


def describe_services(state, params):
    cluster = state["clusters"].get(params["cluster"])
    if cluster is None:
        raise AwsError("ClusterNotFoundException")
    return {"services": [{"serviceName": name, **cluster[name]} for name in params["services"] if name in cluster],
            "failures": [{"arn": name, "reason": "MISSING"} for name in params["services"] if name not in cluster]}


def describe_task_definition(state, params):
    return {"taskDefinition": state["task_definitions"][params["taskDefinition"]]}


def list_task_definitions(state, params):
    """ARNs of task definitions whose family starts with familyPrefix, in one status (ACTIVE unless asked)."""
    arns = [arn for arn, definition in state["task_definitions"].items()
            if arn.split("/")[-1].startswith(params.get("familyPrefix", "")) and definition["status"] == params.get("status", "ACTIVE")]
    start = int(params.get("nextToken", 0))
    answer = {"taskDefinitionArns": arns[start:start + PAGE_SIZE]}
    if start + PAGE_SIZE < len(arns):
        answer["nextToken"] = str(start + PAGE_SIZE)
    return answer


def describe_images(state, params):
    start = int(params.get("nextToken", 0))
    page = state["images"][start:start + PAGE_SIZE]
    answer = {"imageDetails": [{key: image[key] for key in ("imageDigest", "imageTags", "imagePushedAt")} for image in page]}
    if start + PAGE_SIZE < len(state["images"]):
        answer["nextToken"] = str(start + PAGE_SIZE)
    return answer


def find(state, image_id):
    for image in state["images"]:
        if image_id.get("imageDigest") in (None, image["imageDigest"]) and image_id.get("imageTag") in (None, *image["imageTags"]):
            return image
    return None


def batch_get_image(state, params):
    images = [find(state, image_id) for image_id in params["imageIds"]]
    return {"images": [{"imageId": {"imageDigest": image["imageDigest"]}, "imageManifest": image["manifest"],
                        "imageManifestMediaType": image["mediaType"]} for image in images if image]}


def put_image(state, params):
    if find(state, {"imageTag": params["imageTag"]}):
        raise AwsError("ImageTagAlreadyExistsException")
    image = find(state, {"imageDigest": params["imageDigest"]})
    if image is None or image["manifest"] != params["imageManifest"]:
        raise AwsError("ImageDigestDoesNotMatchException")
    image["imageTags"].append(params["imageTag"])
    return {"image": {"imageId": {"imageDigest": image["imageDigest"], "imageTag": params["imageTag"]}}}


def batch_delete_image(state, params):
    failures = []
    for image_id in params["imageIds"]:
        image = find(state, image_id)
        if image is None:
            failures.append({"imageId": image_id, "failureCode": "ImageNotFound"})
            continue
        image["imageTags"].remove(image_id["imageTag"])
        if not image["imageTags"]:
            state["images"].remove(image)
    return {"imageIds": [], "failures": failures}


HANDLERS = {name.__name__: name for name in (describe_services, describe_task_definition, list_task_definitions, describe_images,
                                               batch_get_image, put_image, batch_delete_image)}


def main(argv: list[str]) -> int:
    service, command = argv[0], argv[1]
    assert argv[argv.index("--output") + 1] == "json"
    params = json.loads(argv[argv.index("--cli-input-json") + 1])
    model = botocore.session.get_session().get_service_model(service)
    operation = next(name for name in model.operation_names if botocore.xform_name(name, "-") == command)
    report = ParamValidator().validate(params, model.operation_model(operation).input_shape)
    if report.has_errors():
        print(report.generate_report(), file=sys.stderr)
        return 252
    path = os.environ["FAKE_AWS_STATE"]
    with open(path) as file:
        state = json.load(file)
    state["calls"].append([service, operation, params])
    try:
        if operation in state.get("refuse", []):
            raise AwsError("AccessDeniedException")
        answer = HANDLERS[botocore.xform_name(operation)](state, params)
        code = 0
    except AwsError as error:
        print(f"\nAn error occurred ({error}) when calling the {operation} operation: stand-in refusal", file=sys.stderr)
        answer, code = None, 254
    with open(path, "w") as file:
        json.dump(state, file)
    if answer is not None:
        print(json.dumps(answer))
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
