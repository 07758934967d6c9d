"""The news desk: time-aware answers, what each outlet says, and timelines of a topic."""
