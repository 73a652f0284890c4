"""Shifts: the rota of the contact centre (who works when), kept in the configuration and
edited by supervisors; tells the other rooms who is on shift now, who ends soon, who comes next."""
