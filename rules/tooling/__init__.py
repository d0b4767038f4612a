"""Tools for policy teams, over the policy language: lint, diff, test files, explanations.

Pure where possible (they read pack folders and test files, nothing else); the test runner
itself lives in ``sqm.server.app.policy_tests`` because it runs cases through the application
service, and dependencies point inward.
"""
