"""Cases: the alerts of one problem at one restaurant, moved from first alert to closed by people."""
