"""What every part of the domain shares: one mechanism for creating, updating and deleting
entities (:mod:`.entities`) and the row-lock helpers of the selectors (:mod:`.selectors`)."""
