"""Client billing: quotes, the reservation at intake, settlement and the invoice at delivery."""
