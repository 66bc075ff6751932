"""Tickets: tracked complaints with numbers, grades, departments and SLA deadlines."""
