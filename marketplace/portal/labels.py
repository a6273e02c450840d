"""Words for the codes the portal shows (methods, states, categories, stages, flags), marked for the
catalogues; templates show them with `label(kind, code)`."""

from __future__ import annotations

from marketplace.core.i18n import N_, gettext

METHODS = {
    "public_tender": N_("Public tender (licitación pública)"),
    "public_contest": N_("Public competition (concurso público)"),
    "simplified_award": N_("Simplified award (adjudicación simplificada)"),
    "reverse_auction": N_("Electronic reverse auction"),
    "price_comparison": N_("Price comparison"),
    "direct_contracting": N_("Direct contracting"),
}
CATEGORIES = {"goods": N_("Goods"), "services": N_("Services"), "works": N_("Works"),
              "consultancy": N_("Consultancy")}
TENDER_STATES = {
    "draft": N_("Draft"), "published": N_("Open for enquiries"), "tendering": N_("Receiving bids"),
    "opening": N_("Bid opening"), "evaluation": N_("In evaluation"), "awarded": N_("Awarded"),
    "contracted": N_("Contracted"), "cancelled": N_("Cancelled"), "unsuccessful": N_("Unsuccessful (desierto)"),
}
AWARD_STATES = {"pending": N_("Pending"), "standstill": N_("Standstill period"), "appealed": N_("Appealed"),
                "consented": N_("Final (consented)"), "cancelled": N_("Cancelled")}
APPEAL_STATES = {"pending_bond": N_("Awaiting the appeal bond"), "filed": N_("Under review"),
                 "upheld": N_("Upheld"), "dismissed": N_("Dismissed"), "moot": N_("Lapsed")}
SUPPLIER_STATUS = {"active": N_("Active"), "suspended": N_("Suspended"), "disqualified": N_("Disqualified"),
                   "pending": N_("Pending")}
# OCDS milestone status codes, as the contract's release gives them
MILESTONE_STATUS = {"scheduled": N_("Scheduled"), "met": N_("Met"), "notMet": N_("Not met"),
                    "partiallyMet": N_("Partially met")}
# The evaluation's bonuses (tenders.evaluation.domain policies' codes)
BONUSES = {"regional": N_("Regional bonus"), "mype": N_("MYPE bonus")}
# The score sheet's formulas (tenders.evaluation.domain.FORMULAS), said in the reader's language
FORMULAS = {
    "technical": N_("T_i = sum of the committee's points per criterion"),
    "price_points": N_("P_i = Pmax x Pmin / price_i (lowest valid price gets Pmax)"),
    "base_total": N_("S_i = wT x T_i + wP x P_i"),
    "bonus": N_("B_i,k = rate_k / 100 x S_i, for each bonus policy k that applies (not compounded)"),
    "final": N_("F_i = S_i + sum of B_i,k"),
}
CONTRACT_STATUS = {"pending": N_("Pending signature"), "active": N_("In force"), "terminated": N_("Terminated"),
                   "cancelled": N_("Cancelled")}
STAGES = {"draft": N_("Draft"), "published": N_("Enquiries"), "tendering": N_("Bidding"), "opening": N_("Opening"),
          "evaluation": N_("Evaluation"), "awarded": N_("Standstill"), "contracted": N_("Contract")}
# The read model's indicator codes (Cardinal's R### and ours, MA-*): their names and what each means, said
# for a citizen (README "Red flags as Cardinal computes them" has the exact rules and settings).
FLAGS = {
    "R003": N_("Short submission period"),
    "R018": N_("Single bid"),
    "R024": N_("Price close to the winning bid"),
    "R025": N_("Excessive unsuccessful bids"),
    "R028": N_("Identical bid prices"),
    "R030": N_("Late bid won"),
    "R035": N_("All except the winner disqualified"),
    "R036": N_("Lowest bid disqualified"),
    "R038": N_("Excessive disqualified bids"),
    "R044": N_("Business similarities between suppliers"),
    "R048": N_("Heterogeneous supplier"),
    "R058": N_("Heavily discounted bid"),
    "MA-AMEND": N_("Contract value raised"),
    "MA-STAGE": N_("Process stuck in a stage"),
}
FLAG_DEFINITIONS = {
    "R003": N_("The time to submit bids, from the call's publication to its deadline, was shorter than the "
               "minimum for its procedure."),
    "R018": N_("Only one supplier bid in a procedure open to competition."),
    "R024": N_("The winning price and the next lowest price are unusually close, compared with the other "
               "processes of the same publisher (a possible sign of bids arranged among bidders)."),
    "R025": N_("A supplier that bids often but wins unusually rarely (a possible cover bidder)."),
    "R028": N_("Different suppliers submitted bids with exactly the same price."),
    "R030": N_("A supplier that won had a bid dated after the submission deadline."),
    "R035": N_("Every bidder except the winner was disqualified."),
    "R036": N_("The lowest bid was disqualified and a dearer one won."),
    "R038": N_("A buyer or supplier with an unusually large share of disqualified bids."),
    "R044": N_("Two suppliers bidding in the same process share an address or a contact."),
    "R048": N_("A supplier winning contracts for unusually many different kinds of goods, works or services."),
    "R058": N_("The winning price is unusually far below the next lowest price, compared with the other "
               "processes of the same publisher."),
    "MA-AMEND": N_("The contract's value was raised by amendments by more than the allowed share."),
    "MA-STAGE": N_("The process has stayed in one stage longer than the limit for that stage."),
}
# The names in a flag's evidence (readmodel.py and the indicators), in words; other names show as they are.
EVIDENCE = {
    "days": N_("Days to submit bids"), "threshold": N_("Minimum"), "number_of_tenderers": N_("Bidders"),
    "amount": N_("Amount"), "currency": N_("Currency"), "bid_date": N_("Bid dated"),
    "end_date": N_("Submission deadline"), "winner": N_("Winner"),
    "disqualified_tenderers": N_("Bidders disqualified"), "lowest_amount": N_("Lowest amount"),
    "tenderers": N_("Bidders"), "ratio": N_("Ratio"), "runner_up": N_("Runner-up"),
    "lower_fence": N_("Lower limit of the usual range"), "upper_fence": N_("Upper limit of the usual range"),
    "wins": N_("Wins"), "processes": N_("Processes"), "disqualified": N_("Bids disqualified"),
    "submitted": N_("Bids submitted"), "variety": N_("Kinds of goods, works or services"),
    "cumulative_change_pct": N_("Total change made by amendments, in percent"),
    "amendment_max_pct": N_("Allowed change, in percent"), "stage": N_("Stage"), "limit_days": N_("Limit in days"),
}

KINDS = {"method": METHODS, "category": CATEGORIES, "tender_state": TENDER_STATES, "award_state": AWARD_STATES,
         "appeal_state": APPEAL_STATES, "supplier_status": SUPPLIER_STATUS, "contract_status": CONTRACT_STATUS,
         "milestone_status": MILESTONE_STATUS, "bonus": BONUSES, "formula": FORMULAS, "flag": FLAGS, "stage": STAGES,
         "flag_definition": FLAG_DEFINITIONS, "evidence": EVIDENCE}


def label(kind: str, code: str | None, default: str | None = None) -> str:
    """The words for `code` in the reader's language; `default` (else the code itself) for a code we have
    no words for."""
    if code is None:
        return "—"
    msgid = KINDS.get(kind, {}).get(code)
    return gettext(msgid) if msgid else (default if default is not None else code)


def options(kind: str) -> list[tuple[str, str]]:
    return [(code, gettext(msgid)) for code, msgid in KINDS[kind].items()]
