// The Archive page (being built).
