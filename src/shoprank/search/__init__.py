"""Search: the query plan through named stages to a page of hits."""
from shoprank.search.pipeline import SearchPipeline
from shoprank.search.present import demote_out_of_stock
from shoprank.search.rules import RULES, Rule
from shoprank.search.state import Budgets, Candidates, SearchResult, SearchState

__all__ = ["RULES", "Budgets", "Candidates", "Rule", "SearchPipeline", "SearchResult", "SearchState",
           "demote_out_of_stock"]
