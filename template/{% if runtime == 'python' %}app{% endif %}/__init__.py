"""The sample app: routes shared by an HTTP server (EC2, ECS) and a Lambda handler."""
