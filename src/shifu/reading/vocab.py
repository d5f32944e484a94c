"""The closed vocabularies shared by scenarios, the signals reader, the engine and the rubrics.

These are identifiers, not trainee-facing text: the Chinese labels live in YAML under grader/.
"""
from __future__ import annotations

from enum import Enum


class Family(str, Enum):
    after_sales_logistics = "after_sales_logistics"
    refunds_returns = "refunds_returns"
    claims_fraud = "claims_fraud"
    pre_sales_conversion = "pre_sales_conversion"
    retention = "retention"
    store_complaint = "store_complaint"
    double11_peak = "double11_peak"
    live_stream = "live_stream"
    compliance = "compliance"


class Channel(str, Enum):
    chat = "chat"
    phone = "phone"
    live_stream = "live_stream"


class Competency(str, Enum):
    communication = "communication"
    product = "product"
    operations = "operations"
    analysis = "analysis"
    business = "business"


class BuyerState(str, Enum):
    """The moods a buyer's lines are written for; the engine picks one each turn."""

    angry = "angry"
    calming = "calming"
    probing = "probing"
    accepting = "accepting"
    escalating = "escalating"
    leaving = "leaving"


class Escalation(str, Enum):
    """How a buyer escalates when patience runs out."""

    platform_complaint = "platform_complaint"
    bad_review = "bad_review"
    report_12315 = "report_12315"
    leaves = "leaves"


class Signal(str, Enum):
    """What the signals reader can find in a reply. Personas name these in escalates_on / calms_on."""

    greeting = "greeting"
    self_intro = "self_intro"
    empathy = "empathy"
    apology = "apology"
    blame_shifting = "blame_shifting"
    arguing = "arguing"
    forbidden_phrase = "forbidden_phrase"
    probe = "probe"
    solution = "solution"
    time_commitment = "time_commitment"
    consensus_check = "consensus_check"
    policy_correct = "policy_correct"
    policy_wrong = "policy_wrong"
    over_promise = "over_promise"
    privacy_breach = "privacy_breach"
    off_platform_payment = "off_platform_payment"
    slow_reply = "slow_reply"
    stuffing = "stuffing"
    summary = "summary"
    follow_up = "follow_up"
    retention_offer = "retention_offer"
    # Added for reading meaning (issue 14): shared by the reader, the engine and the rubrics.
    stalling = "stalling"  # 请耐心等待 / 在处理了 / 等通知: no action, no time, nothing the buyer can hold on to
    question = "question"  # the reply asks the buyer something (any question addressed to her), by grammar
    breach = "breach"  # a compliance breach other than privacy/off-platform: paying to remove a review, admitting liability
