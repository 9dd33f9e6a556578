"""Pictures of a chain for people: the chain model, scraped hop figures, graph formats, the page."""
