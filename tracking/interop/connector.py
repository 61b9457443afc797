"""The connector aup_run hands to Auptimizer: DjangoConnector, as Auptimizer 2.0 calls it.

One call differs from what DjangoConnector accepts. ``AbstractResourceManager.__init__``
starts the early-stopping daemon before ``Experiment.__init__`` has created the
experiment and set ``resource_manager.eid``, so the daemon's first call is
``get_intermediate_results_experiment(None, "FINISHED")``. Auptimizer's SQLiteConnector
answers ``{}`` (``eid = NULL`` matches nothing); DjangoConnector refuses a None eid with
InvalidInputError, which kills the daemon thread and silently turns early stopping off
for the whole experiment. Until the connector answers ``{}`` itself, this subclass does.
"""

from tracking.connector import DjangoConnector


class AuptimizerConnector(DjangoConnector):
    def get_intermediate_results_experiment(self, eid, status):
        if eid is None:  # asked before the experiment exists: nothing has finished yet
            return {}
        return super().get_intermediate_results_experiment(eid, status)
