"""The connector contract (shared/spec/CONNECTOR.md), written once for every implementation.

Each test drives the implementation under test only through the `connector` fixture, which
conftest.py parametrises over the implementations: every test runs once per implementation,
as Django's sessions tests run one suite per backend. Its parameters start with the
implementation's id, [orm or [rest, so `pytest tests/contract -k "[rest"` runs one of them.

One module per section of tracking.interface.AbstractConnector (lifetime, experiments, jobs
and attempts, resources, results), and two for what cuts across the sections: scores, and
bad input for every method. A test of one implementation alone belongs with that
implementation's own tests (tests/test_rest_connector.py, tests/test_connector_*.py).

Set-up and checks of the stored rows go straight through the ORM (tests/factories.py), so
a test of one method does not lean on another method of the implementation under test.
Where the spec names Auptimizer's behaviour, the reference is Auptimizer 2.0's
SQLiteConnector; "improved" points are tested as the spec states them.
"""
