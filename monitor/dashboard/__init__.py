"""The live dashboard for PR teams and the support console (`crisiswatch serve`)."""
