"""The cue engine's rules, as a pure function with an injected clock."""

from __future__ import annotations

import pytest

from gala.kernel.clock import ManualClock
from stage_control import model as m

SHEET = (
    m.Cue("c1", "1", "Doors"),
    m.Cue("c2", "2", "Opening", pre_wait_ms=2000),
    m.Cue("c3", "3", "Host", auto_follow_ms=4000),
    m.Cue("c4", "4", "Reveal"),
    m.Cue("c5", "5", "Chain A", auto_follow_ms=0),
    m.Cue("c6", "6", "Chain B", auto_follow_ms=0),
    m.Cue("c7", "7", "Chain C"),
)


def executed(decision: m.Decision) -> list[str]:
    return [o.cue.id for o in decision.outcomes if isinstance(o, m.CueExecuted)]


def test_first_go_takes_the_show_live_and_fires_the_standby_cue() -> None:
    clock = ManualClock()
    decision = m.decide(SHEET, m.initial_state(SHEET), m.Go("c1"), clock.now_ms())
    assert decision.state.phase == m.LIVE
    assert decision.state.started_at_ms == clock.now_ms()
    assert decision.outcomes[0] == m.PhaseChanged(m.LIVE, clock.now_ms())
    assert executed(decision) == ["c1"]
    assert decision.state.standby_cue_id == "c2"
    assert decision.state.last_cue_id == "c1"


def test_go_naming_a_cue_that_is_no_longer_on_standby_is_refused() -> None:
    state = m.decide(SHEET, m.initial_state(SHEET), m.Go("c1"), 0).state
    with pytest.raises(m.StandbyChanged) as refused:
        m.decide(SHEET, state, m.Go("c1"), 1)
    assert refused.value.code == "standby_changed"


def test_pre_wait_delays_the_cue_until_the_timer_is_due() -> None:
    clock = ManualClock()
    state = m.decide(SHEET, m.initial_state(SHEET), m.Go("c1"), clock.now_ms()).state
    decision = m.decide(SHEET, state, m.Go("c2"), clock.now_ms())
    assert executed(decision) == []
    assert decision.state.standby_cue_id == "c3", "standby moves on at GO, not after pre-wait"
    assert decision.state.timers == (m.Timer("c2", clock.now_ms() + 2000, "pre_wait"),)
    clock.advance(1999)
    assert executed(m.decide(SHEET, decision.state, m.Tick(), clock.now_ms())) == []
    clock.advance(1)
    fired = m.decide(SHEET, decision.state, m.Tick(), clock.now_ms())
    assert executed(fired) == ["c2"]
    assert fired.outcomes[0] == m.CueExecuted(SHEET[1], clock.now_ms())
    assert fired.state.timers == ()


def test_auto_follow_fires_the_next_cue_after_its_delay_and_then_moves_the_standby() -> None:
    clock = ManualClock()
    state = m.initial_state(SHEET)
    state = m.decide(SHEET, state, m.SetStandby("c3"), clock.now_ms()).state
    decision = m.decide(SHEET, state, m.Go("c3"), clock.now_ms())
    assert executed(decision) == ["c3"]
    assert decision.state.standby_cue_id == "c4", "the follower waits on standby with its timer"
    assert decision.state.timers == (m.Timer("c4", clock.now_ms() + 4000, "auto_follow"),)
    clock.advance(4000)
    fired = m.decide(SHEET, decision.state, m.Tick(), clock.now_ms())
    assert executed(fired) == ["c4"]
    assert fired.state.standby_cue_id == "c5" and fired.state.timers == ()


def test_go_during_a_pending_auto_follow_fires_the_pending_cue_now_and_consumes_its_timer() -> None:
    state = m.decide(SHEET, m.initial_state(SHEET), m.SetStandby("c3"), 0).state
    state = m.decide(SHEET, state, m.Go("c3"), 0).state
    early = m.decide(SHEET, state, m.Go("c4"), 1500)
    assert early.outcomes == (m.CueExecuted(SHEET[3], 1500),)
    assert early.state.timers == () and early.state.standby_cue_id == "c5"
    assert early.state.last_cue_id == "c4"
    assert executed(m.decide(SHEET, early.state, m.Tick(), 10_000)) == [], "the timer is spent"


def test_cues_execute_in_list_order_when_go_is_pressed_during_an_auto_follow() -> None:
    """The demo's 6 -> 6.1 -> 6.2: a GO during 6's follow fires 6.1, never 6.2 ahead of it."""
    state = m.decide(SHEET, m.initial_state(SHEET), m.SetStandby("c3"), 0).state
    decision = m.decide(SHEET, state, m.Go("c3"), 0)
    order, state = executed(decision), decision.state
    for now_ms in (1000, 2000):
        decision = m.decide(SHEET, state, m.Go(state.standby_cue_id), now_ms)
        order += executed(decision)
        state = decision.state
    order += executed(m.decide(SHEET, state, m.Tick(), 60_000))
    assert order == ["c3", "c4", "c5", "c6", "c7"]


def test_two_gos_pressed_together_during_an_auto_follow_fire_the_pending_cue_once() -> None:
    state = m.decide(SHEET, m.initial_state(SHEET), m.SetStandby("c3"), 0).state
    state = m.decide(SHEET, state, m.Go("c3"), 0).state
    first = m.decide(SHEET, state, m.Go("c4"), 100)
    assert executed(first) == ["c4"]
    with pytest.raises(m.StandbyChanged):
        m.decide(SHEET, first.state, m.Go("c4"), 101)


def test_go_during_a_pre_wait_is_refused_so_the_next_cue_never_executes_first() -> None:
    state = m.decide(SHEET, m.initial_state(SHEET), m.Go("c1"), 0).state
    state = m.decide(SHEET, state, m.Go("c2"), 0).state
    assert state.standby_cue_id == "c3"
    with pytest.raises(m.PreWaitPending) as refused:
        m.decide(SHEET, state, m.Go("c3"), 500)
    assert refused.value.code == "pre_wait_pending"
    assert "1.5 s left" in str(refused.value)
    after = m.decide(SHEET, state, m.Tick(), 2000)
    assert executed(after) == ["c2"]
    assert executed(m.decide(SHEET, after.state, m.Go("c3"), 2001)) == ["c3"]


def test_go_after_a_jump_away_from_a_pending_follower_executes_the_follower_first() -> None:
    state = m.decide(SHEET, m.initial_state(SHEET), m.SetStandby("c3"), 0).state
    state = m.decide(SHEET, state, m.Go("c3"), 0).state
    state = m.decide(SHEET, state, m.SetStandby("c7"), 10).state
    decision = m.decide(SHEET, state, m.Go("c7"), 20)
    assert decision.outcomes == (m.CueExecuted(SHEET[3], 20), m.CueExecuted(SHEET[6], 20))
    assert decision.state.timers == () and decision.state.standby_cue_id is None


def test_zero_delay_follow_chain_executes_in_one_step_in_order() -> None:
    state = m.decide(SHEET, m.initial_state(SHEET), m.SetStandby("c5"), 0).state
    decision = m.decide(SHEET, state, m.Go("c5"), 10)
    assert executed(decision) == ["c5", "c6", "c7"]
    assert decision.state.standby_cue_id is None
    with pytest.raises(m.EndOfCueList):
        m.decide(SHEET, decision.state, m.Go(None), 11)


def test_jump_back_and_unknown_cue() -> None:
    state = m.initial_state(SHEET)
    state = m.decide(SHEET, state, m.SetStandby("c4"), 0).state
    assert state.standby_cue_id == "c4"
    state = m.decide(SHEET, state, m.Back(), 0).state
    assert state.standby_cue_id == "c3"
    with pytest.raises(m.UnknownCue) as refused:
        m.decide(SHEET, state, m.SetStandby("nope"), 0)
    assert refused.value.code == "unknown_cue"
    first = m.initial_state(SHEET)
    with pytest.raises(m.StartOfCueList):
        m.decide(SHEET, first, m.Back(), 0)


def test_back_from_the_end_of_the_list_puts_the_last_cue_on_standby() -> None:
    state = m.StageState(phase=m.LIVE, standby_cue_id=None)
    assert m.decide(SHEET, state, m.Back(), 0).state.standby_cue_id == "c7"


def test_panic_clears_the_stage_and_cancels_timers_but_keeps_the_standby() -> None:
    state = m.decide(SHEET, m.initial_state(SHEET), m.Go("c1"), 0).state
    state = m.decide(SHEET, state, m.Go("c2"), 0).state
    assert state.timers
    decision = m.decide(SHEET, state, m.Panic(), 5)
    assert decision.outcomes == (m.StagePanicked(5),)
    assert decision.state.timers == ()
    assert decision.state.standby_cue_id == "c3"
    assert executed(m.decide(SHEET, decision.state, m.Tick(), 10_000)) == []


def test_an_ended_show_refuses_go_and_can_be_reset_to_a_fresh_log() -> None:
    state = m.decide(SHEET, m.initial_state(SHEET), m.Go("c1"), 0).state
    with pytest.raises(m.ShowLive):
        m.decide(SHEET, state, m.Reset(), 1)
    ended = m.decide(SHEET, state, m.EndShow(), 100)
    assert ended.state.phase == m.ENDED and ended.state.ended_at_ms == 100
    assert ended.outcomes == (m.PhaseChanged(m.ENDED, 100),)
    for command in (m.Go("c2"), m.SetStandby("c1"), m.Back(), m.Panic(), m.EndShow()):
        with pytest.raises(m.ShowEnded) as refused:
            m.decide(SHEET, ended.state, command, 101)
        assert refused.value.code == "show_ended"
    reset = m.decide(SHEET, ended.state, m.Reset(), 200)
    assert reset.state == m.initial_state(SHEET)
    assert reset.outcomes == (m.LogRecreated(200),)


def test_ending_the_show_cancels_pending_timers() -> None:
    state = m.decide(SHEET, m.initial_state(SHEET), m.Go("c1"), 0).state
    state = m.decide(SHEET, state, m.Go("c2"), 0).state
    ended = m.decide(SHEET, state, m.EndShow(), 1).state
    assert ended.timers == ()
    assert executed(m.decide(SHEET, ended, m.Tick(), 10_000)) == []


def test_state_round_trips_through_its_wire_form() -> None:
    state = m.decide(SHEET, m.initial_state(SHEET), m.Go("c1"), 0).state
    state = m.decide(SHEET, state, m.Go("c2"), 0).state
    assert m.StageState.from_wire(state.as_wire()) == state


def test_automatic_mode_fires_timed_cues_at_their_time_without_moving_the_standby() -> None:
    state = m.decide(SHEET, m.initial_state(SHEET), m.Go("c1"), 0).state
    with pytest.raises(m.ShowNotLive):
        m.decide(SHEET, m.initial_state(SHEET), m.ArmClock(True, (("c7", 500),)), 0)
    armed = m.decide(SHEET, state, m.ArmClock(True, (("c7", 500), ("c6", 900))), 10).state
    assert armed.next_due_ms() == 500
    early = m.decide(SHEET, armed, m.Tick(), 499)
    assert executed(early) == []
    fired = m.decide(SHEET, armed, m.Tick(), 500)
    assert executed(fired) == ["c7"] and fired.state.standby_cue_id == "c2"
    disarmed = m.decide(SHEET, fired.state, m.ArmClock(False), 600).state
    assert executed(m.decide(SHEET, disarmed, m.Tick(), 5_000)) == []


def test_a_timed_cue_fired_by_go_first_does_not_fire_again_at_its_time() -> None:
    state = m.decide(SHEET, m.initial_state(SHEET), m.Go("c1"), 0).state
    state = m.decide(SHEET, state, m.ArmClock(True, (("c4", 10_000),)), 1).state
    state = m.decide(SHEET, state, m.SetStandby("c4"), 2).state
    by_hand = m.decide(SHEET, state, m.Go("c4"), 3)
    assert executed(by_hand) == ["c4"] and by_hand.state.standby_cue_id == "c5"
    assert executed(m.decide(SHEET, by_hand.state, m.Tick(), 20_000)) == []


def test_a_timed_cue_on_standby_moves_the_standby_on_when_the_clock_fires_it() -> None:
    state = m.decide(SHEET, m.initial_state(SHEET), m.Go("c1"), 0).state
    state = m.decide(SHEET, state, m.SetStandby("c4"), 1).state
    state = m.decide(SHEET, state, m.ArmClock(True, (("c4", 100),)), 2).state
    fired = m.decide(SHEET, state, m.Tick(), 100)
    assert executed(fired) == ["c4"] and fired.state.standby_cue_id == "c5"
    panicked = m.decide(SHEET, m.decide(SHEET, state, m.Panic(), 50).state, m.Tick(), 100)
    assert executed(panicked) == [], "PANIC stops the clock too"
