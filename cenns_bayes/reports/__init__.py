"""Reports: run a whole study (rates, frequentist limits, posterior) and write it up."""
