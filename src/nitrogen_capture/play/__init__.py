"""``nitrogen-capture play``: run a policy in the live game and record the rollout (docs/play.md).

The parts, one module each:

* :mod:`.action`: :class:`~.action.Action` steps and :class:`~.action.ActionChunk` answers;
* :mod:`.policy_base`: the :class:`~.policy_base.Policy` seam; :mod:`.policies` picks one from
  ``--policy`` (NitroGen's ZeroMQ server, a ``module:callable``, ``random``, ``idle``);
* :mod:`.output`: the :class:`~.output.base.ActionOutput` seam and its backends (XTEST,
  SendInput, uinput, ViGEm);
* :mod:`.takeover`: tells the player's input from the policy's own and hands control over;
* :mod:`.driver`: the loop that feeds frames to the policy and its actions to the output, on its
  own thread so the recording's pacer never waits for a model.

The rollout is a normal session (docs/format.md "Rollouts"): the recorder records frames and the
input that reached the game; the driver adds per row who was in control and what the policy
proposed.
"""
